"""The shared atomic writer and file digest every artifact goes through."""
import hashlib
import json
import os

import pytest

from moga_zoo.fileio import replace_atomic, sha256_file, write_json_atomic, write_text_atomic


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "table.json"
    write_json_atomic(target, {"v": 1})

    def crash(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write('{"v": 2, "trunc')  # half-written
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        replace_atomic(target, crash)
    assert json.loads(target.read_text()) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.json"]


def test_writes_create_folders_and_normal_permissions(tmp_path):
    target = tmp_path / "a" / "b" / "note.txt"
    write_text_atomic(target, "héllo\n")
    assert target.read_text(encoding="utf-8") == "héllo\n"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_sha256_file_matches_hashlib_across_chunks(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)  # spans several 1 MiB chunks
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    saved = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "f.txt", "x")
    finally:
        os.umask(saved)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == mode
