"""Readings of TAAF's loss (strategy.weighting, strategy.entropy_floor), the attention entropy the runs
record, and the uniform-alpha ablation strategy."""

import math

import pytest
import torch
import torch.nn.functional as F

from core.balance import (
    attention_guided_loss,
    detached_loss,
    per_step_ce,
    prediction_loss,
    stream_loss,
)
from core.config import load_config
from core.errors import ConfigError
from core.model import MultimodalSNN
from core.recorder import evaluate
from core.strategies import STRATEGIES, make_strategy
from core.taaf import TemporalAttention, alpha_entropy, entropy_scalars, weighted_over_time
from tests.support import CONFIGS, TAAF_CONFIG


def _batch(seed: int = 0, T: int = 4, B: int = 3, C: int = 5):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(T, B, C, generator=g) * 2
    alpha = torch.randn(B, T, generator=g).softmax(-1)
    y = torch.randint(0, C, (B,), generator=g)
    return logits, alpha, y


def _grads(loss_fn, logits, alpha, y):
    logits, alpha = logits.clone().requires_grad_(), alpha.clone().requires_grad_()
    loss_fn(logits, alpha, y).backward()
    return logits.grad, alpha.grad


# ---- entropy -----------------------------------------------------------------------------------------

def test_entropy_is_ln_T_for_uniform_and_zero_for_one_hot():
    for T in (1, 2, 4, 7):
        assert alpha_entropy(torch.full((3, T), 1.0 / T)) == pytest.approx([math.log(T)] * 3, abs=1e-6)
    one_hot = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
    assert float(alpha_entropy(one_hot)) == 0.0  # 0 log 0 = 0, not NaN
    peaked = torch.tensor([[0.7, 0.1, 0.1, 0.1]])
    h = float(alpha_entropy(peaked))
    assert 0 < h < math.log(4)
    assert h == pytest.approx(-(0.7 * math.log(0.7) + 3 * 0.1 * math.log(0.1)))


def test_entropy_scalars_are_batch_means_per_stream():
    alpha = {"a": torch.full((2, 4), 0.25), "v": torch.tensor([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0]]),
             "f": torch.tensor([[0.5, 0.5, 0, 0]] * 2)}
    s = entropy_scalars(alpha)
    assert set(s) == {"alpha_entropy_a", "alpha_entropy_v", "alpha_entropy_f"}
    assert s["alpha_entropy_a"] == pytest.approx(math.log(4))
    assert s["alpha_entropy_v"] == pytest.approx(math.log(2) / 2)
    assert s["alpha_entropy_f"] == pytest.approx(math.log(2))


# ---- the readings' values and gradients --------------------------------------------------------------

def test_weighted_ce_gives_alpha_the_per_step_losses_as_gradient():
    logits, alpha, y = _batch()
    _, g_alpha = _grads(attention_guided_loss, logits, alpha, y)
    # linear in alpha: d loss / d alpha(b, t) = CE_t(b) / B, so the lowest-loss timestep always wins weight
    assert torch.allclose(g_alpha, per_step_ce(logits, y).T / len(y), atol=1e-6)


def test_detached_weights_give_alpha_no_gradient_but_the_prediction_does():
    logits, alpha, y = _batch(1)
    g_logits, g_alpha = _grads(detached_loss, logits, alpha, y)
    # alpha's whole gradient comes from the prediction term: the per-step weights pass none
    _, g_pred = _grads(lambda o, a, t: prediction_loss(o.detach(), a, t), logits, alpha, y)
    assert torch.allclose(g_alpha, g_pred, atol=1e-7)
    assert g_alpha.abs().sum() > 1e-3
    # and the heads learn only from the per-step loss with alpha as fixed weights
    g_heads, _ = _grads(lambda o, a, t: attention_guided_loss(o, a.detach(), t), logits, alpha, y)
    assert torch.allclose(g_logits, g_heads, atol=1e-7)
    value = attention_guided_loss(logits, alpha, y) + prediction_loss(logits, alpha, y)
    assert float(detached_loss(logits, alpha, y)) == pytest.approx(float(value), rel=1e-6)


def test_detached_reading_still_trains_the_attention_parameters():
    torch.manual_seed(0)
    attn = TemporalAttention(num_classes=5, dim=4)
    logits, _, y = _batch(2)
    logits.requires_grad_()
    detached_loss(logits, attn(logits), y).backward()
    assert attn.query.weight.grad.abs().sum() > 0 and attn.key.weight.grad.abs().sum() > 0


def test_prediction_ce_is_the_loss_of_the_weighted_prediction_and_can_prefer_a_mixture():
    logits, alpha, y = _batch(3)
    assert float(prediction_loss(logits, alpha, y)) == pytest.approx(
        float(F.cross_entropy(weighted_over_time(logits, alpha), y)), rel=1e-6)
    g_logits, g_alpha = _grads(prediction_loss, logits, alpha, y)
    assert g_alpha.abs().sum() > 0 and g_logits.abs().sum() > 0
    # two timesteps that each see half the evidence: each alone is unsure, together they are sure.
    # The weighted-ce loss is linear in alpha (best at a vertex); the prediction's loss is best in between.
    o = torch.tensor([[[3.0, 3.0, 0.0]], [[3.0, 0.0, 3.0]]])  # T=2, B=1, C=3; class 0 is the truth
    y0 = torch.tensor([0])
    mix, vertex = torch.tensor([[0.5, 0.5]]), torch.tensor([[1.0, 0.0]])
    assert float(prediction_loss(o, mix, y0)) < float(prediction_loss(o, vertex, y0))
    assert float(attention_guided_loss(o, mix, y0)) >= float(attention_guided_loss(o, vertex, y0)) - 1e-6


def test_entropy_floor_penalises_only_below_a_fraction_of_ln_T_and_pushes_entropy_up():
    logits, _, y = _batch(4)
    uniform = torch.full((3, 4), 0.25)
    assert float(stream_loss(logits, uniform, y, "weighted-ce", 0.5)) == pytest.approx(
        float(attention_guided_loss(logits, uniform, y)), rel=1e-6)
    scores = torch.tensor([[4.0, 0, 0, 0]] * 3, requires_grad=True)  # a peaked alpha, entropy ~0.2 nats
    alpha = scores.softmax(-1)
    with torch.no_grad():
        base = float(attention_guided_loss(logits, alpha, y))
        loss = float(stream_loss(logits, alpha, y, "weighted-ce", 0.5))
        below = float((0.5 * math.log(4) - alpha_entropy(alpha)).mean())  # the floor is 0.5 ln 4 = 0.69 nats
    assert below > 0 and loss == pytest.approx(base + below, rel=1e-6)
    penalty = torch.relu(0.5 * math.log(4) - alpha_entropy(scores.softmax(-1))).mean()
    penalty.backward()
    assert scores.grad[0, 0] > 0  # gradient descent lowers the peak: entropy rises
    # with one timestep there is nothing to spread: ln 1 = 0, no penalty
    one = torch.ones(3, 1)
    assert float(stream_loss(logits[:1], one, y, "weighted-ce", 0.9)) == pytest.approx(
        float(attention_guided_loss(logits[:1], one, y)))


def test_stream_loss_dispatches_and_refuses_unknown_readings():
    logits, alpha, y = _batch(5)
    assert float(stream_loss(logits, alpha, y, "weighted-ce")) == float(attention_guided_loss(logits, alpha, y))
    assert float(stream_loss(logits, alpha, y, "prediction-ce")) == float(prediction_loss(logits, alpha, y))
    assert float(stream_loss(logits, alpha, y, "detached")) == float(detached_loss(logits, alpha, y))
    with pytest.raises(ValueError, match="weighting 'magic'"):
        stream_loss(logits, alpha, y, "magic")


# ---- settings ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("weighting", ["weighted-ce", "detached", "prediction-ce"])
def test_each_reading_is_a_setting_the_taaf_strategy_uses(weighting):
    cfg = load_config(TAAF_CONFIG, [f'strategy.weighting="{weighting}"'])
    strategy = make_strategy(cfg)
    torch.manual_seed(0)
    model = MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), 10, strategy.fusion)
    out = model(torch.randn(4, 32, 32), torch.rand(4, 1, 8, 8))
    y = torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        loss, parts = strategy.loss(model, out, y)
        expected = sum(stream_loss(out.logits[u], out.alpha[u], y, weighting) for u in "avf")
        loss_f = stream_loss(out.logits["f"], out.alpha["f"], y, weighting)
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    assert parts["loss_f"] == pytest.approx(float(loss_f))


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (['strategy.weighting="magic"'], "'strategy.weighting' = 'magic': expected one of weighted-ce, detached"),
        (["strategy.entropy_floor=-0.1"], "'strategy.entropy_floor' = -0.1: expected a fraction in [0, 1) of ln"),
        (["strategy.entropy_floor=1.0"], "'strategy.entropy_floor' = 1.0: expected a fraction in [0, 1) of ln"),
    ],
)
def test_bad_reading_settings_are_one_line_errors(overrides, expected):
    with pytest.raises(ConfigError) as e:
        load_config(None, overrides)
    assert expected in str(e.value) and "\n" not in str(e.value)


def test_entropy_floor_is_relative_so_any_T_accepts_it():
    for T in (1, 2, 4):
        cfg = load_config(None, ["strategy.entropy_floor=0.9", f"model.T={T}", f"model.audio_steps={T}",
                                 f"model.visual_steps={T}"])
        assert cfg["strategy"]["entropy_floor"] == 0.9


# ---- the uniform-alpha ablation ----------------------------------------------------------------------

def test_uniform_strategy_has_taafs_losses_and_balance_with_alpha_one_over_T():
    cfg = load_config(CONFIGS / "taaf-uniform.toml")
    assert cfg["strategy"]["name"] == "taaf-uniform" and "taaf-uniform" in STRATEGIES
    strategy, taaf = make_strategy(cfg), STRATEGIES["taaf"](cfg)
    torch.manual_seed(0)
    model = MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), 10, strategy.fusion)
    assert model.taaf is None  # no attention parameters at all
    out = model(torch.randn(4, 32, 32), torch.rand(4, 1, 8, 8))
    T = cfg["model"]["T"]
    for u in "avf":
        assert torch.allclose(out.alpha[u], torch.full((4, T), 1.0 / T))
        assert torch.allclose(out.pred[u], out.logits[u].mean(dim=0), atol=1e-6)
    y = torch.tensor([0, 1, 2, 3])
    loss, parts = strategy.loss(model, out, y)
    expected = sum(stream_loss(out.logits[u], out.alpha[u], y, cfg["strategy"]["weighting"]) for u in "avf")
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    assert {"loss_a", "loss_v", "loss_f"} <= set(parts)
    loss.backward()  # all three losses reach both encoders and every head
    for name in ("audio_encoder", "visual_encoder", "head_a", "head_v", "head_f"):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in getattr(model, name).parameters()), name
    signals = strategy.signals(model, out, y, 0)
    assert signals == taaf.signals(model, out, y, 0)
    assert strategy.lr_scale({"k_a": 0.4, "k_v": 1.0}, 0) == (0.4, 1.0)  # the balance applies as in taaf


def test_evaluation_reports_attention_entropy_ln_T_for_uniform_alpha():
    from core.data import build_datasets

    cfg = load_config(CONFIGS / "taaf-uniform.toml")
    bundle = build_datasets(cfg)
    torch.manual_seed(0)
    model = MultimodalSNN(cfg["model"], bundle.audio_shape, bundle.visual_shape, bundle.num_classes, "mean")
    small = torch.utils.data.Subset(bundle.val, range(16))
    r = evaluate(model, make_strategy(cfg), small, 8, torch.device("cpu"))
    for u in "avf":
        assert r[f"alpha_entropy_{u}"] == pytest.approx(math.log(cfg["model"]["T"]), abs=1e-5)
    taaf_cfg = load_config(TAAF_CONFIG)
    attn = MultimodalSNN(taaf_cfg["model"], bundle.audio_shape, bundle.visual_shape, bundle.num_classes, "taaf")
    r = evaluate(attn, make_strategy(taaf_cfg), small, 8, torch.device("cpu"))
    assert all(0 <= r[f"alpha_entropy_{u}"] <= math.log(4) + 1e-6 for u in "avf")


def test_cosine_temperature_bounds_how_sharp_alpha_can_get():
    # scores in [-1/tau, 1/tau]: a row of A puts at most e^(2/tau) / (e^(2/tau) + T - 1) on one timestep,
    # however large the projections grow; dot-product attention has no such bound.
    torch.manual_seed(0)
    T, tau = 4, 0.7
    bound = math.exp(2 / tau) / (math.exp(2 / tau) + T - 1)
    logits = torch.randn(T, 64, 6) * 50
    cosine, dot = TemporalAttention(6, 8, temperature=tau), TemporalAttention(6, 8)
    with torch.no_grad():
        for attn in (cosine, dot):
            attn.query.weight.mul_(100)
            attn.key.weight.mul_(100)
    with torch.no_grad():
        assert float(cosine(logits).max()) <= bound + 1e-6
        assert float(dot(logits).max()) > bound  # the same projections, unbounded scores


def test_attention_temperature_setting_reaches_the_network():
    cfg = load_config(None, ["model.attn_temperature=0.7"])
    model = MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), 10)
    assert all(a.temperature == 0.7 for a in model.taaf.attention.values())
    with pytest.raises(ConfigError, match="'model.attn_temperature' = -1.0: expected a number >= 0"):
        load_config(None, ["model.attn_temperature=-1.0"])


def test_every_compared_reading_is_a_valid_config_that_writes_out_all_reading_settings():
    from core.config import _parse_overrides
    from core.sweep_readings import READINGS, reading_settings

    for reading in READINGS:
        items = reading_settings(reading)
        keys = set(_parse_overrides(items))
        assert {"strategy.name", "strategy.weighting", "strategy.entropy_floor", "model.attn_temperature"} <= keys
        cfg = load_config(TAAF_CONFIG, items)
        assert cfg["strategy"]["weighting"] == READINGS[reading]["strategy.weighting"]


def test_a_saved_run_that_predates_the_reading_settings_is_read_with_the_reading_it_was_trained_with():
    from core.config import DEFAULTS, saved_run_config

    new = load_config(TAAF_CONFIG)
    old = {k: dict(v) if isinstance(v, dict) else v for k, v in new.items()}  # as a run saved before issue 12
    old["strategy"] = {k: v for k, v in new["strategy"].items() if k not in ("weighting", "entropy_floor")}
    old["model"] = {k: v for k, v in new["model"].items() if k != "attn_temperature"}
    cfg = saved_run_config(old, "runs/old/config.json")
    assert (cfg["strategy"]["weighting"], cfg["strategy"]["entropy_floor"]) == ("weighted-ce", 0.0)
    assert DEFAULTS["strategy"]["weighting"] == "detached"  # a new run still gets today's default
    # a run that wrote the settings keeps them, and --set still wins over the fallback
    assert saved_run_config(new, "runs/new/config.json")["strategy"]["weighting"] == new["strategy"]["weighting"]
    kept = saved_run_config(old, "runs/old/config.json", ['strategy.weighting="prediction-ce"'])
    assert kept["strategy"]["weighting"] == "prediction-ce"
    assert old["strategy"].get("weighting") is None  # the caller's dict is not changed


def test_a_checkpoint_with_the_old_dense_aligner_is_refused_in_one_line(tmp_path):
    from core import checkpoint
    from core.errors import CheckpointError

    cfg = load_config(TAAF_CONFIG)
    strategy = make_strategy(cfg)
    model = MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), 10, strategy.fusion)
    state = {"model": {**model.state_dict(), "align_a.weight": torch.eye(4)}, "neurons": {}}
    path = tmp_path / "last.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="before the time-warp aligner") as e:
        checkpoint.load(path, model, None)
    assert str(path) in str(e.value) and "\n" not in str(e.value)
