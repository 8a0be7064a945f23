from twoshot.cli import main

main()
