from herald.publisher.main import main

main()
