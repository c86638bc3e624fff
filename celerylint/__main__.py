from celerylint.cli import run

if __name__ == "__main__":  # guarded: spawned parse workers re-import __main__
    run()
