from wizevol.cli import main

main()
