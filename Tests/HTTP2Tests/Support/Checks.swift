import Testing

// `#expect` takes a member call apart, copying its base and calling the member on that copy: a mutating
// event of a state machine, or any member of a noncopyable one, cannot be checked that way. These work
// the value out first, then check it.

func check(_ condition: Bool, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(condition, comment, sourceLocation: sourceLocation)
}

func checkEqual<T: Equatable>(_ actual: T, _ expected: T, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual == expected, comment, sourceLocation: sourceLocation)
}
