import Glibc
import HeraldCore
import HeraldEngine

// The executable holds no logic worth testing: parse, start, wait.

Engine.blockSignals()

let outcome = ConfigLoader.load(arguments: Array(CommandLine.arguments.dropFirst()),
                                environment: ProcessInfoLite.environment(),
                                readFile: ProcessInfoLite.readFile)
switch outcome {
case .failure(let failure):
    Log.plain("herald: \(failure.description)")
    exit(2)
case .success(.help(let text)):
    print(text, terminator: "")
    exit(0)
case .success(.run(let config)):
    let engine = Engine(config: config)
    do {
        try engine.start()
    } catch {
        Log.plain("herald: \(error)")
        exit(1)
    }
    engine.runUntilSignalled()
    exit(0)
}
