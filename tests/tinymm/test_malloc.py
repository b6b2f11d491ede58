"""tinymm/_malloc.py: the allocator keeps freed memory for the next step, and yields to the user."""

import subprocess
import sys
import textwrap

import pytest

from tinymm import _malloc

# In a fresh process: import tinymm (or not), then run a "step" that allocates four 8 MiB
# arrays and frees them, as a training step re-creates its activations; print the page
# faults of the fourth step.
_PROBE = textwrap.dedent("""
    import resource, sys
    import numpy as np
    if sys.argv[1] == "tinymm":
        import tinymm
        print(tinymm._malloc.policy()["applied"])
    else:
        print("not imported")
    def step():                 # four 8 MiB activations alive at once, then all freed
        arrays = [np.ones(2**20) for _ in range(4)]
        del arrays
    for _ in range(3):
        step()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
""")


def _faults(mode: str, **env) -> tuple[str, int]:
    import os

    full = {k: v for k, v in os.environ.items()
            if k not in ("TINYMM_MALLOC", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], env=full, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    return out[0], int(out[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_import_keeps_freed_memory_so_the_next_step_does_not_fault_it_in_again():
    if not _malloc._glibc_mallopt()[1]:
        pytest.skip("the C library is not glibc: the policy does not apply")
    applied, tuned = _faults("tinymm")
    assert applied == "True"
    # with glibc's defaults the freed heap top beyond its trim threshold (by then 16 MiB, twice
    # the largest block freed) goes back to the kernel, and the next step faults those pages
    # in again: ~2,000 faults of 4 KiB pages on the Zen 4 EPYC. Where transparent huge pages
    # are always on, a fault brings in 2 MiB and the counts are ~500x smaller, so the test
    # compares the counts instead of fixing them
    _, plain = _faults("numpy")
    _, system = _faults("tinymm", TINYMM_MALLOC="system")
    assert plain > 0 and system > 0
    assert tuned * 4 <= min(plain, system)


def test_the_user_s_settings_win():
    assert _malloc.configure({"TINYMM_MALLOC": "system"}) is False
    assert _malloc.policy() == {"applied": False, "reason": "TINYMM_MALLOC=system"}
    assert _malloc.configure({"MALLOC_TRIM_THRESHOLD_": "131072"}) is False
    assert "MALLOC_TRIM_THRESHOLD_ is set" in _malloc.policy()["reason"]
    assert _malloc.configure({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"}) is False
    assert "GLIBC_TUNABLES" in _malloc.policy()["reason"]
    with pytest.warns(RuntimeWarning, match="TINYMM_MALLOC must be one of tuned, system, got 'x'"):
        assert _malloc.configure({"TINYMM_MALLOC": "x"}) is False
    # back to what import tinymm did
    again = _malloc.configure()
    assert again is _malloc.policy()["applied"]
    if again:
        assert _malloc.policy()["mmap_threshold"] == _malloc.MMAP_THRESHOLD
