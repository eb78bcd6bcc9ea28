"""A run's settings: per-task defaults, flags on the command line and on resume."""

from reward_learning.cli import main
from reward_learning.config import save_config
from reward_learning.run import settings, training


def test_each_task_gets_its_own_settings_and_flags_win_on_the_command_line(tmp_path, monkeypatch):
    assert settings.task_config("push") == settings.TrainConfig()
    drape = settings.task_config("drape")
    assert drape.steps == 50_000 and drape.steps != settings.TrainConfig().steps
    built = []

    def capture(config, **kwargs):
        built.append(config)
        raise KeyboardInterrupt  # stop before any training

    monkeypatch.setattr(training, "TrainingRun", capture)
    argv = ["train", "drape", "--learning-rate", "3e-4", "--out", str(tmp_path / "r")]
    assert main(argv) == 130
    (config,) = built
    assert (config.steps, config.learning_rate) == (50_000, 3e-4)
    # Resuming keeps the run's own settings: flags left out are not the defaults.
    (tmp_path / "r").mkdir()
    save_config(config, tmp_path / "r" / "config.json")
    assert main(["train", "--resume", str(tmp_path / "r")]) == 130
    assert built[-1] == config
