"""Converters from upstream checkpoints to equipot model files (no torch needed)."""

CONVERTERS = ('sevenn', 'mace')


def main(argv):
    if not argv or argv[0] not in CONVERTERS:
        raise SystemExit(f'usage: python -m equipot.convert {{{",".join(CONVERTERS)}}} CHECKPOINT OUT')
    if argv[0] == 'sevenn':
        from . import sevenn as converter
    else:
        from . import mace as converter

    converter.main(argv[1:])
