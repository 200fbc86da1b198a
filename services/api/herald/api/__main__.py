from herald.api.main import main

main()
