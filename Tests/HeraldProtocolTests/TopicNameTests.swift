import Testing

@testable import HeraldProtocol

@Suite struct TopicNameTests {
    func both(_ name: String) -> Bool {
        let fromString = TopicName.isValid(name)
        let fromBytes = Array(name.utf8).withUnsafeBytes { TopicName.isValid($0) }
        #expect(fromString == fromBytes, "overloads disagree on \(name)")
        return fromString
    }

    @Test(arguments: ["a", "news", "Tenant:app/room-1_2.x@eu", String(repeating: "z", count: 128), "0", "/", "...", "A-Z"])
    func valid(name: String) {
        #expect(both(name))
    }

    @Test(arguments: ["", String(repeating: "z", count: 129), "a b", "a,b", "ü", "a#", "a?", "a*", "tab\t", "new\nline", "\"q\"", "%20"])
    func invalid(name: String) {
        #expect(!both(name))
    }

    @Test func substringsWork() {
        let list = "alpha,beta gamma"
        let parts = list.split(separator: ",")
        #expect(TopicName.isValid(parts[0]))
        #expect(!TopicName.isValid(parts[1]))
    }
}
