from cnai.cli import entry

entry()
