from distillab.published import PUBLISHED_RUNS


def test_gpu_hours_follow_from_the_published_setup():
    runs = {r.name: r for r in PUBLISHED_RUNS}
    assert abs(runs["s1-32B"].gpu_hours - 16 * 26 / 60) < 1e-9
    assert runs["Sky-T1-32B-Preview"].gpu_hours == 152
    assert runs["R1-Distill-Qwen-1.5B"].gpu_hours is None
