import HTTP2

/// A decoded form or query: the first value of each name, plus whether a name appeared more than once
/// (RFC 6749 forbids repeating a parameter).
struct FormFields {
    private(set) var values: [String: String] = [:]
    private(set) var repeated: [String] = []

    init(_ text: String) {
        for (name, value) in FormEncoding.decode(text) {
            if values[name] != nil { repeated.append(name) } else { values[name] = value }
        }
    }

    /// The value of `name`; an empty value counts as absent.
    subscript(name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }
}

enum HTML {
    /// Escapes text for HTML element content and quoted attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }
}
