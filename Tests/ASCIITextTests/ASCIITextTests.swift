import ASCIIText
import Testing

struct ASCIITextTests {
    @Test func trimmingRemovesSpacesTabsAndLineEndsAtBothEndsOnly() {
        #expect("2025-06-18".trimmingHTTPWhitespace == "2025-06-18")
        #expect(" \t2025-06-18\t ".trimmingHTTPWhitespace == "2025-06-18")
        #expect("value\r\n".trimmingHTTPWhitespace == "value")
        #expect(" a \t b ".trimmingHTTPWhitespace == "a \t b")
        #expect(" \t \r\n".trimmingHTTPWhitespace == "")
        #expect("".trimmingHTTPWhitespace == "")
        // Non-ASCII text is kept whole; only the ASCII whitespace around it goes.
        #expect("  café ☕︎ ".trimmingHTTPWhitespace == "café ☕︎")
        // A slice keeps its own bounds.
        let line = "name:  value \r\n"
        #expect(line[line.index(after: line.firstIndex(of: ":")!)...].trimmingHTTPWhitespace == "value")
    }

    @Test func containsIgnoresASCIICase() {
        #expect("Application/JSON; charset=utf-8".containsASCII("application/json"))
        #expect("text/html, */*;q=0.1".containsASCII("*/*"))
        #expect(!"text/html".containsASCII("application/json"))
        #expect(!"".containsASCII("a"))
    }

    @Test func equalsIgnoringCaseComparesWholeText() {
        #expect("Bearer"[...].utf8.equalsASCII(ignoringCase: "bearer"))
        #expect("BEARER"[...].utf8.equalsASCII(ignoringCase: "bearer"))
        #expect(!"Bearers"[...].utf8.equalsASCII(ignoringCase: "bearer"))
        #expect(!"Beare"[...].utf8.equalsASCII(ignoringCase: "bearer"))
        #expect(!"Bearér"[...].utf8.equalsASCII(ignoringCase: "bearer"))
    }
}
