import JSON

/// One fuzz input through the JSON parser and writer. Refusing is fine; crashing, or accepting something the
/// writer cannot reproduce, traps (libFuzzer saves the input).
///
/// Invariants: an error points inside the input; accepted input is valid UTF-8 (outside strings JSON is ASCII,
/// so a parser that repairs bad bytes in strings shows here); an accepted value is written without raw line
/// breaks, and the written text reads back to an equal value that is written the same way again; the
/// `String` entry point agrees with the bytes one whenever the bytes are UTF-8.
func check(_ bytes: [UInt8]) {
    let verdict = Result { () throws(JSONParseError) in try JSONParser.parse(bytes) }
    switch verdict {
    case .failure(let error):
        guard (0...bytes.count).contains(error.offset) else { fatalError("error offset \(error.offset) outside \(bytes.count) bytes: \(error)") }
        guard !error.reason.isEmpty else { fatalError("an error without a reason at byte \(error.offset)") }
    case .success(let value):
        guard String(validating: bytes, as: UTF8.self) != nil else { fatalError("accepted text that is not UTF-8: \(value)") }
        let written = JSONWriter.encode(value)
        guard !written.contains(0x0A), !written.contains(0x0D) else { fatalError("a raw line break in written text: \(value)") }
        let reread: JSONValue
        do {
            reread = try JSONParser.parse(written)
        } catch {
            fatalError("the writer's text is refused (\(error)): \(String(decoding: written, as: UTF8.self))")
        }
        guard reread == value else { fatalError("read back differently: \(value) became \(reread)") }
        guard JSONWriter.encode(reread) == written else { fatalError("written differently the second time: \(value)") }
    }
    if let text = String(validating: bytes, as: UTF8.self) {
        let fromText = Result { () throws(JSONParseError) in try JSONParser.parse(text) }
        switch (verdict, fromText) {
        case (.success(let a), .success(let b)) where a == b: break
        case (.failure(let a), .failure(let b)) where a == b: break
        default: fatalError("bytes and String disagree: \(verdict) versus \(fromText)")
        }
    }
}
