from synthlab.cli import main

main()
