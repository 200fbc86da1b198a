from herald.alerter.main import main

main()
