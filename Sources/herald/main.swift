import HeraldCore
import HeraldEngine
import HeraldIO

// The executable holds no logic worth testing: parse, start, wait.

Engine.blockSignals()

let outcome = ConfigLoader.load(arguments: Array(CommandLine.arguments.dropFirst()),
                                environment: ProcessEnvironment.variables(),
                                readFile: ProcessEnvironment.readFile)
switch outcome {
case .failure(let failure):
    Log.plain("herald: \(failure.description)")
    ProcessEnvironment.exit(2)
case .success(.help(let text)):
    print(text, terminator: "")
    ProcessEnvironment.exit(0)
case .success(.run(let config)):
    let engine = Engine(config: config)
    do {
        try engine.start()
    } catch {
        Log.plain("herald: \(error)")
        ProcessEnvironment.exit(1)
    }
    engine.runUntilSignalled()
    ProcessEnvironment.exit(0)
}
