"""MkDocs hook: serve the committed figures of ``results/`` without copying them into ``docs/``.

Every ``results/**/*.png`` becomes a site file at the same path, so a docs page links
``results/<study>/<figure>.png`` relative to the docs root, and ``mkdocs build --strict``
checks that each linked figure exists.
"""

from pathlib import Path

from mkdocs.structure.files import File


def on_files(files, config):
    root = Path(config["config_file_path"]).parent
    for png in sorted((root / "results").rglob("*.png")):
        files.append(File(png.relative_to(root).as_posix(), src_dir=str(root),
                          dest_dir=config["site_dir"], use_directory_urls=config["use_directory_urls"]))
    return files
