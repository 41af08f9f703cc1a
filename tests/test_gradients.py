"""Hand-derived gradients the chapters teach, against autograd and finite differences (chapters 04-05)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lmcourse.models import RNN


def test_softmax_cross_entropy_gradient_is_p_minus_onehot_over_n() -> None:
    gen = torch.Generator().manual_seed(0)
    z = (torch.randn(16, 30, dtype=torch.float64, generator=gen) * 3).requires_grad_()
    y = torch.randint(0, 30, (16,), generator=gen)
    F.cross_entropy(z, y).backward()
    by_hand = (torch.softmax(z.detach(), dim=1) - F.one_hot(y, 30)) / len(y)
    torch.testing.assert_close(z.grad, by_hand, rtol=0, atol=1e-15)
    # and finite differences, which need only the loss
    eps = 1e-6
    for i, j in [(0, int(y[0])), (3, 7), (15, 29)]:
        bump = torch.zeros_like(by_hand)
        bump[i, j] = eps
        with torch.no_grad():
            numeric = (F.cross_entropy(z + bump, y) - F.cross_entropy(z - bump, y)) / (2 * eps)
        assert abs(numeric - by_hand[i, j]) < 1e-9


def test_a_wrong_hand_gradient_is_caught() -> None:
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(8, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    y = torch.randint(0, 5, (8,), generator=gen)
    F.cross_entropy(z, y).backward()
    forgot_mean = torch.softmax(z.detach(), dim=1) - F.one_hot(y, 5)  # the sum's gradient, not the mean's
    assert not torch.allclose(z.grad, forgot_mean)


def test_the_counting_bigram_is_where_gradient_descent_on_the_counts_goes() -> None:
    gen = torch.Generator().manual_seed(2)
    N = torch.randint(1, 20, (6, 6), generator=gen).double()  # no zero counts: the optimum is reachable
    W = torch.zeros(6, 6, dtype=torch.float64, requires_grad=True)
    for _ in range(3000):
        loss = -(N * torch.log_softmax(W, dim=1)).sum() / N.sum()
        W.grad = None
        loss.backward()
        with torch.no_grad():
            W -= 20.0 * W.grad
    torch.testing.assert_close(torch.softmax(W.detach(), dim=1), N / N.sum(dim=1, keepdim=True), rtol=0, atol=1e-6)


def test_the_rnn_gradient_equals_finite_differences() -> None:
    torch.manual_seed(0)
    rnn = RNN(3, 4, num_layers=2).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp, *w: rnn(inp)[0].sum(), (x, *rnn.parameters()))
