"""Messages the app shows speak in the words of its forms; the CLI keeps its flags."""

from __future__ import annotations

import gradio as gr
import pytest
from helpers import handler

from studio.errors import StudioError


def test_ui_sentence_names_form_fields_and_cli_sentence_keeps_flags():
    e = StudioError("--device", "CUDA was requested but no CUDA GPU is available here; use --device cpu")
    assert e.sentence() == "--device: CUDA was requested but no CUDA GPU is available here; use --device cpu"
    assert e.ui_sentence() == "Device: CUDA was requested but no CUDA GPU is available here; use 'Device: cpu'"
    e = StudioError("/data/x", "has no action feature to learn; name it with --map KEY=action")
    assert e.ui_sentence() == "/data/x: has no action feature to learn; name it with 'Feature map: KEY=action'"
    assert StudioError("--where", "not a valid SQL predicate").ui_sentence() == "Filter: not a valid SQL predicate"
    assert StudioError("x", "see --no-such-flag").ui_sentence() == "x: see --no-such-flag"  # no field: left as is


def test_train_form_errors_name_the_field_not_the_flag(project, tmp_path, capsys):
    from panels import train
    from panels.registry import AppContext
    from studio.cli import main
    from studio.plugins import host
    from studio.synthetic import write_synthetic_dataset

    ds = write_synthetic_dataset(tmp_path / "reach", episodes=2, frames=20, environment_state=True)
    with gr.Blocks() as demo:
        train.build(AppContext(project=project, plugins=host()))
    preview = handler(demo, "train-preview")
    with pytest.raises(gr.Error) as err:
        preview(str(ds), "act", 50, 4, 0, "tpu", 7, 0, "", "local", "", [], "", 0)
    assert str(err.value.message).startswith("Device: 'tpu' is not a device") and "--" not in str(err.value.message)
    with pytest.raises(gr.Error) as err:
        preview(str(ds), "act", 50, 4, 0, "cpu", 7, 0, "", "local", "", [], "9-3", 0)
    assert str(err.value.message).startswith("Episodes: ") and "--episodes" not in str(err.value.message)
    # the terminal keeps the flag it was given
    assert main(["train", str(ds), "--device", "tpu", "--project", str(project.home)]) == 2
    assert "error: --device: 'tpu' is not a device" in capsys.readouterr().err
