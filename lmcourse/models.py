"""Neural language models of chapters 04-06: the recurrent cells from scratch, and the models built on them.

The recurrent layers, with PyTorch's conventions (so weights copy to and from ``torch.nn``):

- ``rnn_cell`` and ``lstm_cell``: one time step, the textbook equations, written to be read.
- ``RNN`` and ``LSTM``: ``nn.Module`` s over whole sequences, many layers, batch first:
  ``output, state = layer(x, state)``. ``from_torch`` / ``to_torch`` copy the weights of a
  ``torch.nn.RNN`` / ``torch.nn.LSTM``. The LSTM runs its own backward pass through time
  (``_LSTMSequence``), fast enough to train in a chapter; ``impl="cell"`` runs the readable
  ``lstm_cell`` loop with autograd instead (the same numbers, several times slower).

The language models map token ids ``idx`` of shape ``(B, T)`` to logits ``(B, T, V)``, a
prediction of the next token at every position, so they train on the ``(x, y)`` windows of
``lmcourse.batches`` as they are. They share one forward contract, nanoGPT's and makemore's::

    logits, loss = model(idx)            # loss is None
    logits, loss = model(idx, targets)   # loss = lm_loss(logits, targets), -100 targets ignored

- ``BigramLM(V)``: a table of V x V logits, row ``a`` scoring the token after ``a``.
- ``MLPLM(V, context, embed_dim, hidden)``: Bengio et al. (2003): the embeddings of the last
  ``context`` tokens, concatenated, a tanh hidden layer, logits.
- ``RecurrentLM(V, embed_dim, hidden, num_layers, cell)``: embedding, an RNN or LSTM, a linear
  read-out. ``run(idx, state)`` also takes and returns the recurrent state, for truncated
  backpropagation through time with the state carried across batches (``detach_state``).

``generate(model, prompt_ids, n, generator=...)`` samples from any of the three (and from a ``TransformerLM``),
with the decoding pieces of ``lmcourse.sampling``: temperature, top-k, top-p, a repetition penalty, or greedy.

Everything is device-agnostic (the tensors' device decides, nothing assumes the CPU) and works
in float32 (the default) and float64 (for ``torch.autograd.gradcheck``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lmcourse import sampling
from lmcourse.batches import IGNORE_INDEX
from lmcourse.sampling import top_k_logits

CELLS = ("lstm", "rnn", "torch-lstm")
LSTM_IMPLS = ("fused", "cell")
NONLINEARITIES = ("tanh", "relu")

LSTMState = tuple[torch.Tensor, torch.Tensor]

__all__ = ["CELLS", "LSTM", "RNN", "BigramLM", "MLPLM", "RecurrentLM", "detach_state", "generate", "lm_loss",
           "lstm_cell", "rnn_cell", "top_k_logits"]


# --------------------------------------------------------------------------- checking arguments


def _whole(value: object, name: str, minimum: int) -> int:
    """``value`` itself if it is an int >= ``minimum`` (not a bool); else an error that names ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= {minimum}, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return value


def _choice(value: object, name: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}.")
    return value


def _check_input(x: object, size: int, like: torch.Tensor, who: str) -> torch.Tensor:
    """``x`` if it is a (batch, time, ``size``) float tensor with the dtype and device of ``like``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who} needs a tensor x of shape (batch, time, {size}), got {type(x).__name__}.")
    if x.dim() != 3 or x.shape[2] != size:
        hint = "; for one sequence use x[None]" if x.dim() == 2 and x.shape[-1] == size else ""
        raise ValueError(f"{who} expects x of shape (batch, time, input_size) = (B, T, {size}) (batch first), "
                         f"got shape {tuple(x.shape)}{hint}.")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{who} needs at least one sequence of at least one step, got x of shape {tuple(x.shape)}.")
    if x.dtype != like.dtype or x.device != like.device:
        raise TypeError(f"{who} has {like.dtype} weights on {like.device}, got x of dtype {x.dtype} on {x.device}; "
                        f"convert one of them, e.g. x.to(layer.weight_ih_l0) or layer.to(x).")
    return x


def _check_state_tensor(t: object, name: str, shape: tuple[int, ...], like: torch.Tensor, who: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{who}: {name} must be a tensor of shape {shape}, got {type(t).__name__}.")
    if tuple(t.shape) != shape:
        raise ValueError(f"{who}: {name} must have shape (num_layers, batch, hidden_size) = {shape}, "
                         f"got shape {tuple(t.shape)}.")
    if t.dtype != like.dtype or t.device != like.device:
        raise TypeError(f"{who}: {name} must be {like.dtype} on {like.device} like x, got {t.dtype} on {t.device}.")
    return t


# --------------------------------------------------------------------------- one time step, to read


def rnn_cell(x_t: torch.Tensor, h: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
             bias_ih: torch.Tensor | None = None, bias_hh: torch.Tensor | None = None,
             nonlinearity: str = "tanh") -> torch.Tensor:
    """One step of a plain (Elman) RNN: the new hidden state ``h_t``, shape (B, H).

        h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

    ``x_t`` (B, in), ``h`` = h_{t-1} (B, H), ``weight_ih`` (H, in), ``weight_hh`` (H, H), biases (H,) or
    None; ``nonlinearity="relu"`` puts max(0, .) in place of tanh. Autograd does the backward pass.
    """
    pre = x_t @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        pre = pre + bias_ih
    if bias_hh is not None:
        pre = pre + bias_hh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_cell(x_t: torch.Tensor, h: torch.Tensor, c: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
              bias_ih: torch.Tensor | None = None, bias_hh: torch.Tensor | None = None) -> LSTMState:
    """One step of an LSTM: the new ``(h_t, c_t)``, each (B, H). The four gates, one by one::

        i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)     input gate: how much of g_t to write
        f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)     forget gate: how much of c_{t-1} to keep
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)        candidate: what to write
        o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)     output gate: how much of the cell to show
        c_t = f_t * c_{t-1} + i_t * g_t                          the cell state (* is elementwise)
        h_t = o_t * tanh(c_t)                                    the hidden state, the layer's output

    ``weight_ih`` (4H, in) stacks W_ii, W_if, W_ig, W_io in that order (PyTorch's), ``weight_hh``
    (4H, H) likewise; the biases are (4H,) or None. Autograd does the backward pass.
    """
    W_ii, W_if, W_ig, W_io = weight_ih.chunk(4, dim=0)
    W_hi, W_hf, W_hg, W_ho = weight_hh.chunk(4, dim=0)
    zero = torch.zeros((), dtype=x_t.dtype, device=x_t.device)
    b_ii, b_if, b_ig, b_io = bias_ih.chunk(4) if bias_ih is not None else (zero,) * 4
    b_hi, b_hf, b_hg, b_ho = bias_hh.chunk(4) if bias_hh is not None else (zero,) * 4
    i = torch.sigmoid(x_t @ W_ii.T + b_ii + h @ W_hi.T + b_hi)
    f = torch.sigmoid(x_t @ W_if.T + b_if + h @ W_hf.T + b_hf)
    g = torch.tanh(x_t @ W_ig.T + b_ig + h @ W_hg.T + b_hg)
    o = torch.sigmoid(x_t @ W_io.T + b_io + h @ W_ho.T + b_ho)
    c = f * c + i * g
    h = o * torch.tanh(c)
    return h, c


# --------------------------------------------------------------------------- the LSTM's own backward pass


class _LSTMSequence(torch.autograd.Function):
    """One LSTM layer over a whole sequence, with the backward pass through time written by hand.

    Inputs, prepared by ``_gate_rows`` from PyTorch's layout: ``xw`` (B, T, 4H), the input projections
    of every step plus both biases, computed beforehand in one matrix product; ``h0``, ``c0`` (B, H);
    ``w_hh`` (4H, H). Two changes of layout make the per-step work small:

    - the gates come in the order o, i, f, g (not PyTorch's i, f, g, o), so that the three gates
      that multiply ``dc`` in the backward pass sit side by side;
    - the rows of o, i and f are halved, because sigmoid(z) = (1 + tanh(z/2)) / 2: one tanh over
      all four gates, on contiguous memory, then one multiply-add, instead of a sigmoid and a tanh
      on strided slices (about twice as fast on a CPU). So this function's inputs z' are z/2 for
      o, i, f (z for g), and its gradients are with respect to z': d sigmoid / dz' = 2 s (1 - s).

    Returns every ``h_t`` (B, T, H) and the last cell state c_T (B, H). Forward saves the gate
    activations, the cell states and tanh(c_t). Backward runs t = T-1 .. 0 (dz: gradient of z'):

        dh_t  = (gradient from the output at t) + dz_{t+1} @ W_hh
        dc_t += dh_t * o_t * (1 - tanh(c_t)^2)
        dz_o  = dh_t * tanh(c_t) * 2 o_t (1 - o_t)
        dz_i  = dc_t * g_t * 2 i_t (1 - i_t);  dz_f = dc_t * c_{t-1} * 2 f_t (1 - f_t);  dz_g = dc_t * i_t * (1 - g_t^2)
        dc_{t-1} = dc_t * f_t

    Every factor that does not depend on dh or dc is computed for all steps at once before the
    loop, leaving five small operations per step; dW_hh is one matrix product after it.
    """

    @staticmethod
    def forward(ctx, xw: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor,  # type: ignore[override]
                w_hh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, T, H4 = xw.shape
        H = H4 // 4
        acts = xw.new_empty(T, B, H4)   # o, i, f, g after their nonlinearities
        cs = xw.new_empty(T, B, H)
        tcs = xw.new_empty(T, B, H)     # tanh(c_t)
        hs = xw.new_empty(B, T, H)
        w_t = w_hh.t().contiguous()  # (H, 4H): a row-major right operand is about twice as fast here
        scale = torch.cat((xw.new_full((3 * H,), 0.5), xw.new_ones(H)))    # sigmoid = 0.5 + 0.5 tanh for o, i, f
        shift = torch.cat((xw.new_full((3 * H,), 0.5), xw.new_zeros(H)))
        # every per-step view made once, outside the loop (indexing costs microseconds per call)
        xw_t, acts_t, cs_t, tcs_t, hs_t = xw.unbind(1), acts.unbind(0), cs.unbind(0), tcs.unbind(0), hs.unbind(1)
        o_t, i_t, f_t, g_t = (gate.unbind(0) for gate in acts.split(H, dim=2))
        h, c = h0, c0
        for t in range(T):
            a = acts_t[t]
            torch.addmm(xw_t[t], h, w_t, out=a)
            torch.addcmul(shift, a.tanh_(), scale, out=a)
            c = torch.mul(f_t[t], c, out=cs_t[t]).addcmul_(i_t[t], g_t[t])
            h = torch.mul(o_t[t], torch.tanh(c, out=tcs_t[t]), out=hs_t[t])
        ctx.save_for_backward(acts, cs, tcs, hs, h0, c0, w_hh)
        return hs, cs[-1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dhs: torch.Tensor, dc_last: torch.Tensor  # type: ignore[override]
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        acts, cs, tcs, hs, h0, c0, w_hh = ctx.saved_tensors
        T, B, H4 = acts.shape
        H = H4 // 4
        sig, g = acts[..., :3 * H], acts[..., 3 * H:]
        o, i, f = sig.split(H, dim=2)
        # all the per-step factors that do not depend on the incoming gradients, for every step at once
        zero, one = acts.new_zeros(()), acts.new_ones(())
        ds_o, ds_i, ds_f = torch.addcmul(sig, sig, sig, value=-1).split(H, dim=2)   # s (1 - s)
        dc_from_dh = torch.addcmul(one, tcs, tcs, value=-1).mul_(o)                # dc_t += dh_t * o (1 - tanh(c)^2)
        dzo_from_dh = torch.addcmul(zero, tcs, ds_o, value=2)                        # dz_o = dh_t * this
        dzifg_from_dc = acts.new_empty(T, B, 3, H)                                   # dz_i, dz_f, dz_g = dc_t * this
        torch.addcmul(zero, g, ds_i, value=2, out=dzifg_from_dc[:, :, 0])
        torch.addcmul(zero, c0, ds_f[0], value=2, out=dzifg_from_dc[0, :, 1])
        torch.addcmul(zero, cs[:-1], ds_f[1:], value=2, out=dzifg_from_dc[1:, :, 1])
        torch.addcmul(one, g, g, value=-1, out=dzifg_from_dc[:, :, 2]).mul_(i)
        dz = acts.new_empty(B, T, H4)                                                # gradient of the gates' inputs
        dz_t, dzo_t, dzifg_t = dz.unbind(1), dz[..., :H].unbind(1), dz[..., H:].unflatten(2, (3, H)).unbind(1)
        dhs_t, f_t = dhs.unbind(1), f.unbind(0)
        a_t, b_t, m_t = dc_from_dh.unbind(0), dzo_from_dh.unbind(0), dzifg_from_dc.unbind(0)
        dc = dc_last.clone(memory_format=torch.contiguous_format)
        dc_3 = dc.unsqueeze(1)                                                       # a view: follows dc's updates
        for t in range(T - 1, -1, -1):
            dh = dhs_t[t] if t == T - 1 else torch.addmm(dhs_t[t], dz_t[t + 1], w_hh)
            dc.addcmul_(dh, a_t[t])
            torch.mul(dh, b_t[t], out=dzo_t[t])
            torch.mul(dc_3, m_t[t], out=dzifg_t[t])
            dc.mul_(f_t[t])
        dh0 = dz[:, 0] @ w_hh
        dw_hh = None
        if ctx.needs_input_grad[3]:
            h_prev = torch.cat((h0[:, None], hs[:, :-1]), dim=1)   # (B, T, H)
            dw_hh = dz.reshape(B * T, H4).t() @ h_prev.reshape(B * T, H)
        return dz, dh0, dc, dw_hh


def _gate_rows(w: torch.Tensor) -> torch.Tensor:
    """Rows (or entries) of PyTorch's gate order i, f, g, o as ``_LSTMSequence`` takes them: in the order
    o, i, f, g, those of the sigmoid gates o, i, f halved."""
    H = w.shape[0] // 4
    return torch.cat((w[3 * H:] * 0.5, w[:2 * H] * 0.5, w[2 * H:3 * H]))


# --------------------------------------------------------------------------- the layers


class _Recurrent(nn.Module):
    """What RNN and LSTM share: PyTorch's parameter names, shapes and initialisation, and the weight copying."""

    _gates = 1
    _torch_class: type[nn.RNNBase] = nn.RNN

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, bias: bool) -> None:
        super().__init__()
        self.input_size = _whole(input_size, "input_size", 1)
        self.hidden_size = _whole(hidden_size, "hidden_size", 1)
        self.num_layers = _whole(num_layers, "num_layers", 1)
        self.bias = _flag(bias, "bias")
        G, H = self._gates * self.hidden_size, self.hidden_size
        for k in range(self.num_layers):  # registered in torch.nn's order, so that one seed gives the same weights
            setattr(self, f"weight_ih_l{k}", nn.Parameter(torch.empty(G, self.input_size if k == 0 else H)))
            setattr(self, f"weight_hh_l{k}", nn.Parameter(torch.empty(G, H)))
            if self.bias:
                setattr(self, f"bias_ih_l{k}", nn.Parameter(torch.empty(G)))
                setattr(self, f"bias_hh_l{k}", nn.Parameter(torch.empty(G)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias uniform in [-1/sqrt(H), 1/sqrt(H)], as ``torch.nn.RNN`` / ``LSTM`` do."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def layer_weights(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Layer ``k``'s ``(weight_ih, weight_hh, bias_ih, bias_hh)``; the biases are None without bias."""
        get = self.__getattr__
        if self.bias:
            return get(f"weight_ih_l{k}"), get(f"weight_hh_l{k}"), get(f"bias_ih_l{k}"), get(f"bias_hh_l{k}")
        return get(f"weight_ih_l{k}"), get(f"weight_hh_l{k}"), None, None

    def _options(self) -> dict[str, object]:
        return {}

    def extra_repr(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self._options().items())
        return f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, bias={self.bias}{extra}"

    @classmethod
    def _check_torch(cls, module: object) -> nn.RNNBase:
        name = cls._torch_class.__name__
        if not isinstance(module, cls._torch_class):
            raise TypeError(f"{cls.__name__}.from_torch needs a torch.nn.{name}, got {type(module).__name__}.")
        if module.bidirectional:
            raise ValueError(f"{cls.__name__}.from_torch: the torch.nn.{name} is bidirectional, and this "
                             f"{cls.__name__} runs one direction only; use bidirectional=False.")
        if module.dropout > 0:
            raise ValueError(f"{cls.__name__}.from_torch: the torch.nn.{name} has dropout={module.dropout} between "
                             f"layers, which this {cls.__name__} does not do; use dropout=0 (or add dropout outside).")
        if getattr(module, "proj_size", 0) != 0:
            raise ValueError(f"{cls.__name__}.from_torch: the torch.nn.{name} has proj_size={module.proj_size} "
                             "(a projected LSTM), which this LSTM does not have; use proj_size=0.")
        return module

    @classmethod
    def _copy_from(cls, module: nn.RNNBase, **options: object) -> _Recurrent:
        ref = module.weight_ih_l0
        new = cls(module.input_size, module.hidden_size, module.num_layers, bias=module.bias, **options)
        new.to(device=ref.device, dtype=ref.dtype)
        with torch.no_grad():
            for name, p in new.named_parameters():
                p.copy_(getattr(module, name))
        return new

    def _copy_to(self, module: nn.RNNBase) -> nn.RNNBase:
        with torch.no_grad():
            for name, p in self.named_parameters():
                getattr(module, name).copy_(p)
        return module


class RNN(_Recurrent):
    """A plain (Elman) RNN of ``num_layers`` layers, from scratch, with ``torch.nn.RNN``'s conventions.

    Layer k at step t (``rnn_cell``), layer 0 reading x_t and layer k > 0 reading layer k-1's h_t::

        h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (or relu with nonlinearity="relu")

    ``forward(x, state=None)``: ``x`` is (B, T, input_size), batch first; ``state`` is the initial
    h (num_layers, B, hidden_size), zeros if None. Returns ``(output, h)``: ``output`` (B, T, hidden_size)
    holds the last layer's h_t at every step, ``h`` (num_layers, B, hidden_size) every layer's last h_t.
    Parameters ``weight_ih_l{k}`` (H, in), ``weight_hh_l{k}`` (H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (H,),
    initialised as PyTorch does (so one seed gives the same weights as ``torch.nn.RNN``). The input
    projections of all steps are one matrix product; autograd does the backward pass through time.
    """

    _gates = 1
    _torch_class = nn.RNN

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True) -> None:
        self.nonlinearity = _choice(nonlinearity, "nonlinearity", NONLINEARITIES)
        super().__init__(input_size, hidden_size, num_layers, bias)

    def _options(self) -> dict[str, object]:
        return {"nonlinearity": self.nonlinearity}

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.weight_ih_l0
        x = _check_input(x, self.input_size, w, "RNN")
        B, T, _ = x.shape
        shape = (self.num_layers, B, self.hidden_size)
        if state is None:
            state = x.new_zeros(shape)
        h0 = _check_state_tensor(state, "state", shape, w, "RNN")
        act = torch.tanh if self.nonlinearity == "tanh" else torch.relu
        out, last = x, []
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self.layer_weights(k)
            xw = out @ w_ih.T  # (B, T, H): every step's input projection at once
            if b_ih is not None and b_hh is not None:
                xw = xw + (b_ih + b_hh)
            h, hs, w_t = h0[k], [], w_hh.T.contiguous()  # a row-major right operand multiplies faster
            for t in range(T):
                h = act(torch.addmm(xw[:, t], h, w_t))  # = rnn_cell(out[:, t], h, ...)
                hs.append(h)
            out = torch.stack(hs, dim=1)
            last.append(h)
        return out, torch.stack(last)

    @classmethod
    def from_torch(cls, module: nn.RNN) -> RNN:
        """A copy of a ``torch.nn.RNN``'s weights, on its device and in its dtype.

        Refused: bidirectional, or dropout between layers. Any ``batch_first`` is accepted,
        since it does not change the weights, but this RNN is always batch first: for a
        module with ``batch_first=False`` give it ``x.transpose(0, 1)``.
        """
        module = cls._check_torch(module)
        new = cls._copy_from(module, nonlinearity=module.nonlinearity)
        assert isinstance(new, RNN)
        return new

    def to_torch(self, batch_first: bool = True) -> nn.RNN:
        """A ``torch.nn.RNN`` with these weights, on the same device and in the same dtype."""
        w = self.weight_ih_l0
        module = nn.RNN(self.input_size, self.hidden_size, self.num_layers, nonlinearity=self.nonlinearity,
                        bias=self.bias, batch_first=_flag(batch_first, "batch_first"), device=w.device, dtype=w.dtype)
        return self._copy_to(module)


class LSTM(_Recurrent):
    """A long short-term memory layer (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al.
    2000), from scratch, with ``torch.nn.LSTM``'s conventions. Layer k at step t (``lstm_cell``)::

        i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
        f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
        o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    (``*`` is elementwise; layer 0 reads x_t, layer k > 0 reads layer k-1's h_t.)

    ``forward(x, state=None)``: ``x`` is (B, T, input_size), batch first; ``state`` is ``(h0, c0)``,
    each (num_layers, B, hidden_size), zeros if None. Returns ``(output, (h, c))``: ``output``
    (B, T, hidden_size) holds the last layer's h_t at every step; ``h`` and ``c`` (num_layers, B,
    hidden_size) every layer's last h_t and c_t. As in PyTorch, ``weight_ih_l{k}`` (4H, in) stacks
    W_ii, W_if, W_ig, W_io (gate order i, f, g, o), ``weight_hh_l{k}`` (4H, H) likewise, and
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` are (4H,); they are initialised as PyTorch does, so one seed
    gives the same weights as ``torch.nn.LSTM``.

    ``impl="fused"`` (default) computes the input projections of all steps in one matrix product
    and runs the recurrence in ``_LSTMSequence``: one matrix product per step for all four gates, and
    a backward pass through time written by hand. ``impl="cell"`` loops ``lstm_cell`` and lets autograd
    do the backward pass: the textbook, several times slower. Both give the same numbers. Under
    ``torch.autocast`` the fused path computes the input projections in low precision and the
    recurrence in the weights' dtype, so its outputs are in the weights' dtype.
    """

    _gates = 4
    _torch_class = nn.LSTM

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 impl: str = "fused") -> None:
        self.impl = _choice(impl, "impl", LSTM_IMPLS)
        super().__init__(input_size, hidden_size, num_layers, bias)

    def _options(self) -> dict[str, object]:
        return {"impl": self.impl}

    def forward(self, x: torch.Tensor, state: LSTMState | None = None) -> tuple[torch.Tensor, LSTMState]:
        w = self.weight_ih_l0
        impl = _choice(self.impl, "impl", LSTM_IMPLS)
        x = _check_input(x, self.input_size, w, "LSTM")
        B, T, _ = x.shape
        shape = (self.num_layers, B, self.hidden_size)
        if state is None:
            h0 = c0 = x.new_zeros(shape)
        else:
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise TypeError(f"LSTM: state must be a pair (h0, c0) of tensors of shape {shape}, "
                                f"got {type(state).__name__}" + (f" of length {len(state)}." if
                                                                 isinstance(state, (tuple, list)) else "."))
            h0 = _check_state_tensor(state[0], "h0", shape, w, "LSTM")
            c0 = _check_state_tensor(state[1], "c0", shape, w, "LSTM")
        out, hs, cs = x, [], []
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self.layer_weights(k)
            if impl == "fused":
                w_in = _gate_rows(w_ih)
                xw = out @ w_in.T if b_ih is None or b_hh is None else torch.addmm(
                    _gate_rows(b_ih + b_hh), out.reshape(B * T, -1), w_in.T).view(B, T, -1)
                # under autocast xw comes in low precision: the recurrence runs in the weights' dtype
                out, c = _LSTMSequence.apply(xw.to(w_hh.dtype), h0[k], c0[k], _gate_rows(w_hh))
                h = out[:, -1]
            else:
                h, c, steps = h0[k], c0[k], []
                for t in range(T):
                    h, c = lstm_cell(out[:, t], h, c, w_ih, w_hh, b_ih, b_hh)
                    steps.append(h)
                out = torch.stack(steps, dim=1)
            hs.append(h)
            cs.append(c)
        return out, (torch.stack(hs), torch.stack(cs))

    @classmethod
    def from_torch(cls, module: nn.LSTM, impl: str = "fused") -> LSTM:
        """A copy of a ``torch.nn.LSTM``'s weights, on its device and in its dtype.

        Refused: ``proj_size`` > 0, bidirectional, or dropout between layers. Any ``batch_first``
        is accepted, since it does not change the weights, but this LSTM is always batch first:
        for a module with ``batch_first=False`` (PyTorch's default, input (T, B, in)) give it
        ``x.transpose(0, 1)``, and transpose its output back. The state ``(h, c)`` is
        (num_layers, B, H) in both conventions.
        """
        module = cls._check_torch(module)
        new = cls._copy_from(module, impl=impl)
        assert isinstance(new, LSTM)
        return new

    def to_torch(self, batch_first: bool = True) -> nn.LSTM:
        """A ``torch.nn.LSTM`` with these weights, on the same device and in the same dtype."""
        w = self.weight_ih_l0
        module = nn.LSTM(self.input_size, self.hidden_size, self.num_layers, bias=self.bias,
                         batch_first=_flag(batch_first, "batch_first"), device=w.device, dtype=w.dtype)
        return self._copy_to(module)


# --------------------------------------------------------------------------- language models


def _check_idx(idx: object, vocab_size: int, who: str, name: str = "idx") -> torch.Tensor:
    """``idx`` if it is a (B, T) integer tensor of ids in 0 .. vocab_size-1, else an error naming what is wrong."""
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"{who}: {name} must be a tensor of token ids of shape (batch, time), "
                        f"got {type(idx).__name__}; e.g. torch.tensor([ids]).")
    if idx.dtype == torch.bool or idx.is_floating_point() or idx.is_complex():
        raise TypeError(f"{who}: {name} must hold integer token ids (torch.long), got dtype {idx.dtype}.")
    if idx.dim() != 2 or idx.shape[0] == 0 or idx.shape[1] == 0:
        hint = f"; for one sequence use {name}[None]" if idx.dim() == 1 else ""
        raise ValueError(f"{who}: {name} must have shape (batch, time) = (B, T) with B, T >= 1, "
                         f"got shape {tuple(idx.shape)}{hint}.")
    bad = (idx < 0) | (idx >= vocab_size)
    if bool(bad.any()):
        b, t = (int(v) for v in bad.nonzero()[0])
        raise ValueError(f"{who}: token id {int(idx[b, t])} at {name}[{b}, {t}] is outside the vocabulary of size "
                         f"{vocab_size} (ids 0 .. {vocab_size - 1}); encode with the tokeniser the model was built "
                         "for, or build the model with its vocab_size.")
    return idx


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy (nats per token) of ``logits`` (B, T, V) against ``targets`` (B, T).

    Targets equal to ``IGNORE_INDEX`` (-100, the padding of ``lmcourse.batches.pad_sequences``)
    count for nothing; any other target must be an id in 0 .. V-1.
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3:
        got = f"shape {tuple(logits.shape)}" if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"lm_loss: logits must have shape (B, T, V), got {got}.")
    if not isinstance(targets, torch.Tensor) or tuple(targets.shape) != tuple(logits.shape[:2]):
        got = f"shape {tuple(targets.shape)}" if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise ValueError(f"lm_loss: targets must have shape (B, T) = {tuple(logits.shape[:2])}, one per position of "
                         f"the logits {tuple(logits.shape)}, got {got}.")
    V = logits.shape[2]
    _check_idx(targets.masked_fill(targets == IGNORE_INDEX, 0), V, "lm_loss", "targets")
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)


class _LM(nn.Module):
    """The contract every language model here keeps: ``forward(idx, targets=None) -> (logits, loss)``."""

    vocab_size: int
    #: how many of the last tokens the prediction depends on (None: all of them, a recurrent model)
    context: int | None = None

    def logits(self, idx: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``logits`` (B, T, V) for the token after each position of ``idx`` (B, T), and the loss
        ``lm_loss(logits, targets)`` if ``targets`` (B, T) are given (None otherwise)."""
        logits = self.logits(_check_idx(idx, self.vocab_size, type(self).__name__))
        return logits, None if targets is None else lm_loss(logits, targets)


class BigramLM(_LM):
    """The bigram model as a neural network: one table of V x V logits, row ``a`` scoring the token after ``a``.

    ``softmax(table[a])`` is P(next | a). It is an ``nn.Embedding(V, V)``, started at zeros, so the
    model starts uniform (loss ln V); trained by gradient descent on cross-entropy, it converges to
    the counting model's estimate (the MLE of chapter 02, where every pair was seen).
    """

    context = 1

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.vocab_size = _whole(vocab_size, "vocab_size", 1)
        self.table = nn.Embedding(self.vocab_size, self.vocab_size)
        nn.init.zeros_(self.table.weight)

    def logits(self, idx: torch.Tensor) -> torch.Tensor:
        return self.table(idx)


class MLPLM(_LM):
    """The MLP language model of Bengio et al. (2003): from the last ``context`` tokens to the next one.

    At each position t: the embeddings (``embed_dim`` each) of tokens t-context+1 .. t, concatenated,
    go through a tanh hidden layer of ``hidden`` units and a linear layer to V logits::

        e = [E[x_{t-context+1}], ..., E[x_t]]      (context * embed_dim)
        logits_t = W2 tanh(W1 e + b1) + b2

    (Bengio et al. also add a direct connection from e to the logits; we leave it out, as makemore does.)

    Input (B, T) ids give logits (B, T, V), one prediction per position, so the model trains on the
    ``(x, y)`` windows of ``lmcourse.batches`` like every other model here. Positions near the start
    of a row have fewer than ``context`` tokens before them: the window is filled on the left with a
    "before the start" token, an extra learned embedding (row V of the table, which no token id
    reaches), as makemore does. So such a position is scored as if the row started the text, and only
    positions t >= context-1 of a row see a full window; give rows that start a record, or score only
    the full-window positions, when that matters.

    ``dropout`` (chapter 09): while training, each hidden unit is zeroed with this probability and the others
    scaled by 1 / (1 - dropout); in eval mode nothing is dropped. 0, the default, leaves the model as above.
    """

    def __init__(self, vocab_size: int, context: int, embed_dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.vocab_size = _whole(vocab_size, "vocab_size", 1)
        self.context = _whole(context, "context", 1)
        self.embed_dim = _whole(embed_dim, "embed_dim", 1)
        self.hidden = _whole(hidden, "hidden", 1)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(f"dropout is the probability of zeroing a hidden unit while training, a number in "
                             f"[0, 1) (0: none, 0.2-0.5 typical), got {dropout!r}.")
        self.dropout = float(dropout)
        self.embed = nn.Embedding(self.vocab_size + 1, self.embed_dim)  # row V: "before the start"
        self.hidden_layer = nn.Linear(self.context * self.embed_dim, self.hidden)
        self.out = nn.Linear(self.hidden, self.vocab_size)

    def logits(self, idx: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        start = idx.new_full((B, self.context - 1), self.vocab_size)
        window = torch.cat((start, idx), dim=1).unfold(1, self.context, 1)   # (B, T, context): oldest first
        e = self.embed(window).flatten(2)                                     # (B, T, context * embed_dim)
        h = torch.tanh(self.hidden_layer(e))
        if self.dropout and self.training:  # chapter 09: each hidden unit zeroed with probability dropout
            h = F.dropout(h, self.dropout, training=True)
        return self.out(h)


State = torch.Tensor | LSTMState


def detach_state(state: State) -> State:
    """The recurrent state cut from its graph, for truncated backpropagation through time::

        state = None
        for x, y in batches:                      # consecutive pieces of the same streams
            logits, state = model.run(x, state)
            loss = lm_loss(logits, y)
            ...                                   # backward, step
            state = detach_state(state)           # carry the values, not the gradients
    """
    if isinstance(state, torch.Tensor):
        return state.detach()
    return (state[0].detach(), state[1].detach())


class RecurrentLM(_LM):
    """A recurrent language model: embedding, ``num_layers`` RNN or LSTM layers, a linear read-out to V logits.

    ``cell``: ``"lstm"`` (this module's ``LSTM``), ``"rnn"`` (this module's ``RNN``, tanh) or
    ``"torch-lstm"`` (``torch.nn.LSTM``, batch first), all with PyTorch's weight layout, so the
    weights of one copy into another (``recurrent.from_torch``). The model of chapter 06, the
    classic Embedding - LSTM - Dense(softmax), in PyTorch.

    ``forward(idx, targets=None) -> (logits, loss)`` starts from a zero state, like every model
    here. ``run(idx, state=None) -> (logits, state)`` takes a state and returns the final one:
    ``(h, c)`` for an LSTM, ``h`` for an RNN, each (num_layers, B, hidden).
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden: int, num_layers: int = 1, cell: str = "lstm") -> None:
        super().__init__()
        self.vocab_size = _whole(vocab_size, "vocab_size", 1)
        self.embed_dim = _whole(embed_dim, "embed_dim", 1)
        self.hidden = _whole(hidden, "hidden", 1)
        self.num_layers = _whole(num_layers, "num_layers", 1)
        self.cell = _choice(cell, "cell", CELLS)
        self.embed = nn.Embedding(self.vocab_size, self.embed_dim)
        self.recurrent: nn.Module
        if self.cell == "lstm":
            self.recurrent = LSTM(self.embed_dim, self.hidden, self.num_layers)
        elif self.cell == "rnn":
            self.recurrent = RNN(self.embed_dim, self.hidden, self.num_layers)
        else:
            self.recurrent = nn.LSTM(self.embed_dim, self.hidden, self.num_layers, batch_first=True)
        self.out = nn.Linear(self.hidden, self.vocab_size)

    def _check_state(self, state: object, batch: int) -> State:
        shape = (self.num_layers, batch, self.hidden)
        like = self.out.weight
        if self.cell == "rnn":
            if not isinstance(state, torch.Tensor):
                raise TypeError(f"RecurrentLM(cell='rnn'): state must be a tensor h of shape {shape}, "
                                f"got {type(state).__name__}.")
            return _check_state_tensor(state, "state", shape, like, "RecurrentLM")
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"RecurrentLM(cell={self.cell!r}): state must be a pair (h, c) of tensors of shape "
                            f"{shape}, got {type(state).__name__}.")
        return (_check_state_tensor(state[0], "h", shape, like, "RecurrentLM"),
                _check_state_tensor(state[1], "c", shape, like, "RecurrentLM"))

    def run(self, idx: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """``(logits, state)``: logits (B, T, V) from ``idx`` (B, T) starting at ``state`` (zeros if None),
        and the state after the last position, to pass to the next call."""
        idx = _check_idx(idx, self.vocab_size, "RecurrentLM")
        if state is not None:
            state = self._check_state(state, idx.shape[0])
        out, state = self.recurrent(self.embed(idx), state)
        return self.out(out), state

    def logits(self, idx: torch.Tensor) -> torch.Tensor:
        return self.run(idx)[0]


# --------------------------------------------------------------------------- sampling


def generate(model: nn.Module, prompt_ids: Sequence[int] | torch.Tensor, n: int, *,
             generator: torch.Generator | None = None, temperature: float = 1.0, top_k: int | None = None,
             stop: int | None = None, cache: bool = True, top_p: float | None = None,
             repetition_penalty: float = 1.0, greedy: bool = False) -> list[int]:
    """Sample up to ``n`` tokens after ``prompt_ids`` from ``model`` (any language model of the course: a
    ``BigramLM``, ``MLPLM``, ``RecurrentLM`` or ``lmcourse.transformer.TransformerLM``).

    Each token is drawn with ``torch.multinomial`` from ``lmcourse.sampling.distribution`` of the last
    logits (in float32): softmax(logits / ``temperature``), filtered by ``top_k`` and ``top_p``, using
    ``generator`` (a ``torch.Generator`` you seed), never the global random state: the same seed gives
    the same text, and sampling shifts no other random stream. The draws happen on the generator's
    device (a CPU generator works with a model on a GPU).

    - ``temperature`` > 0: below 1 sharpens the distribution, above 1 flattens it; a tiny one (1e-9, even
      1e-300) picks the most likely token, as greedy decoding does (ties shared).
    - ``top_k``: draw only among the k most likely tokens (None: all).
    - ``top_p``: draw only from the nucleus, the fewest most likely tokens whose probabilities (after the
      temperature and top_k) add up to at least ``top_p``, a number in (0, 1] (None or 1: all).
    - ``repetition_penalty`` >= 1: before anything else, the logit of every token already in the text (the
      whole prompt and the tokens generated so far) is divided by it if positive, multiplied by it if
      negative (CTRL's penalty, ``sampling.repetition_penalty``); 1 changes nothing.
    - ``greedy=True``: the most likely token at every step (ties: the lowest id), no draws at all; then
      ``generator`` may be left out and ``temperature``, ``top_k``, ``top_p`` must stay at their defaults
      (they would change nothing). ``repetition_penalty`` still applies.

    A model with a ``run(idx, state)`` method reads the prompt once and then carries its state, one token
    at a time: a recurrent model its hidden state, a Transformer its key-value cache. With ``cache=False``,
    or for a model without one, each step re-reads the last ``model.context`` tokens (all of them for a
    recurrent model): slower, and the same tokens under the same seed.

    Returns the new ids only (not the prompt), as a list of ints: ``n`` of them, or fewer when
    ``stop`` (e.g. an ``<eos>`` id, which must be in 0 .. V-1) is drawn, which is then the last one. ``prompt_ids`` is a
    non-empty list or 1-D tensor of ids (start a record with its ``<bos>`` id). The model is put in
    eval mode while sampling and back in its previous mode afterwards; no gradients are kept.
    """
    if not isinstance(model, _LM):
        raise TypeError(f"generate samples from a language model of lmcourse (BigramLM, MLPLM, RecurrentLM, "
                        f"TransformerLM), got {type(model).__name__}.")
    n = _whole(n, "n", 0)
    if top_k is not None:
        if not isinstance(top_k, bool) and isinstance(top_k, numbers.Integral) and top_k < 1:
            raise ValueError(f"top_k must be >= 1 (draw among the k most likely tokens), got {top_k}; or pass "
                             "top_k=None to draw from every token.")
        top_k = _whole(top_k, "top_k", 1)
        if top_k > model.vocab_size:
            raise ValueError(f"top_k={top_k} is larger than the vocabulary ({model.vocab_size} tokens): pick 1 .. "
                             f"{model.vocab_size}, or top_k=None to draw from every token.")
    if top_p is not None:
        top_p = sampling._top_p_value(top_p, "top_p")
    penalty = sampling._penalty_value(repetition_penalty, "repetition_penalty")
    carry = _flag(cache, "cache") and callable(getattr(model, "run", None))
    pick_greedy = _flag(greedy, "greedy")
    if pick_greedy:
        if temperature != 1.0 or top_k is not None or top_p is not None:
            raise ValueError(f"greedy=True takes the most likely token at every step, so temperature, top_k and top_p "
                             f"would change nothing; leave them at their defaults (got temperature={temperature!r}, "
                             f"top_k={top_k!r}, top_p={top_p!r}), or pass greedy=False to sample.")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}; greedy "
                            "decoding draws nothing, so it may be left out.")
    elif not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}; pass your own, "
                        "e.g. torch.Generator().manual_seed(0), so that the samples are reproducible.")
    temperature = sampling._temperature_value(temperature)
    if stop is not None:
        V = model.vocab_size
        if isinstance(stop, bool) or not isinstance(stop, numbers.Integral):
            raise TypeError(f"stop must be a token id (an int) or None, got {stop!r} ({type(stop).__name__}); "
                            "e.g. stop=tok.token_to_id(EOS) to end a sample at <eos>.")
        if not 0 <= stop < V:
            raise ValueError(f"stop={stop} is not a token id of the model's vocabulary, ids 0 .. {V - 1} (vocab_size "
                             f"{V}), so it could never be drawn; pass the id of the token that ends a sample, e.g. "
                             "stop=tok.token_to_id(EOS), or stop=None to always generate n tokens.")
        stop = int(stop)
    if isinstance(prompt_ids, torch.Tensor):
        if prompt_ids.dim() != 1:
            raise ValueError(f"prompt_ids must be one sequence of ids (1-D), got a tensor of shape "
                             f"{tuple(prompt_ids.shape)}.")
        prompt = prompt_ids.tolist()
    elif isinstance(prompt_ids, (list, tuple)):
        prompt = list(prompt_ids)
    else:
        raise TypeError(f"prompt_ids must be a list or 1-D tensor of token ids, got {type(prompt_ids).__name__}.")
    if not prompt:
        raise ValueError("prompt_ids is empty: give at least one token to start from, e.g. [bos_id].")
    V = model.vocab_size
    bad = next((i for i, t in enumerate(prompt) if isinstance(t, numbers.Integral) and not 0 <= t < V), None)
    if bad is not None:
        raise ValueError(f"token id {prompt[bad]} at prompt_ids[{bad}] is outside the vocabulary of size {V} (ids 0 .. "
                         f"{V - 1}); encode the prompt with the tokeniser the model was built for.")
    device = next(model.parameters()).device
    idx = torch.tensor([prompt], dtype=torch.long, device=device)
    _check_idx(idx, model.vocab_size, type(model).__name__, "prompt_ids")  # type: ignore[arg-type]
    was_training = model.training
    model.eval()
    out: list[int] = []
    try:
        with torch.no_grad():
            state: State | None = None
            window = -model.context if model.context else 0  # a recurrent model re-reads everything
            idx = idx[:, window:]  # a prompt longer than the context: its last model.context tokens
            for _ in range(n):
                if carry:
                    logits, state = model.run(idx, state)  # type: ignore[operator]
                else:
                    logits, _ = model(idx[:, window:])
                z = logits[0, -1].float()
                if penalty != 1:
                    z = sampling.repetition_penalty(z, prompt + out, penalty)
                if pick_greedy:
                    token = sampling.greedy(z)
                else:
                    assert generator is not None
                    probs = sampling.distribution(z, temperature=temperature, top_k=top_k, top_p=top_p)
                    token = int(torch.multinomial(probs.to(generator.device), 1, generator=generator))
                out.append(token)
                if token == stop:
                    break
                nxt = torch.tensor([[token]], dtype=torch.long, device=device)
                idx = nxt if carry else torch.cat((idx, nxt), dim=1)[:, window:]
    finally:
        model.train(was_training)
    return out
