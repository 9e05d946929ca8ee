"""Converters from upstream checkpoints to equipot model files (no torch needed)."""

CONVERTERS = ('sevenn',)


def main(argv):
    if not argv or argv[0] not in CONVERTERS:
        raise SystemExit(f'usage: python -m equipot.convert {{{",".join(CONVERTERS)}}} CHECKPOINT OUT')
    from . import sevenn

    sevenn.main(argv[1:])
