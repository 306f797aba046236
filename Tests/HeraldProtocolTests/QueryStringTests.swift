import Testing

@testable import HeraldProtocol

@Suite struct QueryStringTests {
    func pairs(_ query: String) -> [String]? {
        QueryString.parse(query)?.map { "\($0.name)=\($0.value)" }
    }

    @Test func decodesPairs() {
        #expect(pairs("a=1&b=x%20y") == ["a=1", "b=x y"])
        #expect(pairs("topics=news%2Csports&token=abc.def") == ["topics=news,sports", "token=abc.def"])
        #expect(pairs("q=a+b%2Bc") == ["q=a b+c"])
        #expect(pairs("flag&x=") == ["flag=", "x="])
        #expect(pairs("a=1&&b=2&") == ["a=1", "b=2"])
        #expect(pairs("") == [])
        #expect(pairs("e=%C3%A9%c3%a9") == ["e=éé"])
        #expect(pairs("k=v=w") == ["k=v=w"])
    }

    @Test(arguments: ["a=%", "a=%2", "a=%G0", "a=%0G", "%zz=1", "a=%FF", "a=%C3", "a=%ED%A0%80"])
    func rejects(query: String) {
        #expect(QueryString.parse(query) == nil)
        // A bad pair anywhere refuses the lookup too, even after a match.
        let lookup = QueryString.firstValue(named: "topic", in: "topic=t&" + query)
        #expect(!lookup.valid && lookup.value == nil)
    }

    /// `firstValue` agrees with `parse` followed by `first(where:)`.
    @Test(arguments: ["topic=t1", "a=1&topic=x%2Fy&topic=z", "topic", "x=1", "", "%74opic=enc", "topic=a+b"])
    func firstValueAgreesWithParse(query: String) {
        let lookup = QueryString.firstValue(named: "topic", in: query)
        #expect(lookup.valid)
        #expect(lookup.value == QueryString.parse(query)?.first(where: { $0.name == "topic" })?.value)
    }

    @Test func percentDecode() {
        #expect(QueryString.percentDecode("plain") == "plain")
        #expect(QueryString.percentDecode("%41%62") == "Ab")
        #expect(QueryString.percentDecode("%") == nil)
    }
}
