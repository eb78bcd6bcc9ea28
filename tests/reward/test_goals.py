"""Goal images: rendered, loaded from a folder, and bad folders refused in one line."""

import cv2
import numpy as np
import pytest

from reward_learning.cli import main
from reward_learning.errors import UserInputError
from reward_learning.reward.goals import load_goal_images, render_goals, save_goals


def test_rendered_goals_round_trip_through_a_folder(tmp_path):
    images = render_goals("push", 4, image_size=48, seed=0)
    assert images.shape == (4, 48, 48, 3) and images.dtype == np.uint8
    save_goals(images, tmp_path)
    np.testing.assert_array_equal(load_goal_images(tmp_path, 48), images)
    assert np.load(tmp_path / "goals.npz")["images"].shape == (4, 48, 48, 3)
    # The pusher is not always at one spot: no shortcut for a classifier.
    assert len({img.tobytes() for img in images}) == 4


def test_loader_resizes_square_images(tmp_path):
    cv2.imwrite(str(tmp_path / "a.jpg"), np.full((200, 200, 3), 128, np.uint8))
    assert load_goal_images(tmp_path, 64).shape == (1, 64, 64, 3)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: None, "has no PNG or JPEG images"),
        (lambda d: (d / "x.png").write_bytes(b"not a png"), "corrupt"),
        (lambda d: cv2.imwrite(str(d / "g.png"), np.zeros((64, 64), np.uint8)), "grayscale"),
        (lambda d: cv2.imwrite(str(d / "w.png"), np.zeros((64, 128, 3), np.uint8)), "128x64"),
    ],
)
def test_bad_goal_folders_give_one_line_errors(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(UserInputError, match=message) as info:
        load_goal_images(tmp_path, 64)
    assert "\n" not in str(info.value)


def test_missing_goal_folder(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        load_goal_images(tmp_path / "nope", 64)


def test_collect_goals_cli(tmp_path):
    assert main(["collect-goals", "push", "-n", "3", "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("goal_*.png"))) == 3


def test_a_16_bit_goal_image_is_refused_in_one_line(tmp_path):
    import cv2
    import numpy as np
    import pytest

    from reward_learning.errors import UserInputError
    from reward_learning.reward.goals import load_goal_images

    cv2.imwrite(str(tmp_path / "deep.png"), np.full((32, 32, 3), 40_000, np.uint16))
    with pytest.raises(UserInputError, match="16-bit channels: save it as 8-bit RGB"):
        load_goal_images(tmp_path, 32)
