from celerylint.cli import main

if __name__ == "__main__":  # guarded: spawned parse workers re-import __main__
    raise SystemExit(main())
