from herald.recovery.main import main

main()
