import Glibc
import LoadGenKit

exit(LoadGenMain.run(arguments: Array(CommandLine.arguments.dropFirst())))
