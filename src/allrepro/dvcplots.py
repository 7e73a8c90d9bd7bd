"""`dvc plots show` offline: the HTML page DVC fills with its plots, with Vega, Vega-Lite and vega-embed inside it
(from the vl-convert-python package) instead of the three <script src="https://cdn.jsdelivr.net/..."> tags DVC's
own page loads — which leave every panel blank on a machine without the internet.

`.dvc/config` names the page (`[plots] html_template = plots.html`, relative to .dvc/); `allrepro dvc-plots`
(run by `make setup`) writes it from the installed package, and again only when that package changes.
"""
from __future__ import annotations

from pathlib import Path

TEMPLATE = ".dvc/plots.html"
MARK = "<!-- allrepro dvc-plots: vl-convert-python {version} -->"


def page(bundle: str, version: str) -> str:
    # an inline script ends at the first "</script": the bundle's own occurrences are escaped
    bundle = bundle.replace("</script", "<\\/script")
    for placeholder in ("{plot_divs}", "{scripts}", "{refresh_tag}"):  # DVC fills these by plain replacement
        if placeholder in bundle:
            raise ValueError(f"the Vega bundle contains {placeholder}, which DVC would replace")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{MARK.format(version=version)}
{{refresh_tag}}
<title>DVC plots (offline)</title>
<script>
{bundle}
</script>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em }}
table {{ border-spacing: 15px }}
</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def write(path: str | Path = TEMPLATE) -> str:
    """Write the page (when absent or made from another vl-convert version); say what was done."""
    import vl_convert
    from importlib.metadata import version

    from allrepro.fileio import write_bytes

    path, ver = Path(path), version("vl-convert-python")
    if not path.parent.is_dir():
        return f"{path.parent}: no DVC project here (dvc init first): nothing written"
    if path.is_file() and MARK.format(version=ver) in path.read_text(encoding="utf-8", errors="replace")[:2000]:
        return f"{path}: up to date (vl-convert-python {ver})"
    write_bytes(page(vl_convert.javascript_bundle("window.vegaEmbed = vegaEmbed;"), ver).encode(), path)
    return f"{path}: written (Vega from vl-convert-python {ver}; `dvc plots show` needs no network)"
