"""Local image storage that never leaves half a file behind, even when the process is killed mid-write."""

from __future__ import annotations

import os
import tempfile

from django.core.files import File
from django.core.files.storage import FileSystemStorage


class AtomicFileSystemStorage(FileSystemStorage):
    """Writes each file under a temporary name in the same folder, then renames it into place (atomic on POSIX)."""

    def _save(self, name: str, content: File) -> str:
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".partial-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                for chunk in content.chunks():
                    file.write(chunk)
            if self.file_permissions_mode is not None:
                os.chmod(temporary, self.file_permissions_mode)
            else:
                os.chmod(temporary, 0o644)
            os.replace(temporary, full_path)
        except BaseException:
            os.unlink(temporary)
            raise
        return os.path.relpath(full_path, self.location).replace(os.sep, "/")
