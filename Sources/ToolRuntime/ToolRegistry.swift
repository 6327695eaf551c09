import Tenancy
/// The tools the daemon offers, by name, in the order they were registered.
public struct ToolRegistry: Sendable {
    public private(set) var tools: [Tool] = []
    private var positions: [String: Int] = [:]

    public init() {}

    public init(_ tools: [Tool]) throws(ToolRegistryError) {
        for tool in tools { try register(tool) }
    }

    /// Adds a tool; a second tool with the same name is refused.
    public mutating func register(_ tool: Tool) throws(ToolRegistryError) {
        guard positions[tool.name] == nil else {
            throw ToolRegistryError(message: "a tool named '\(tool.name)' is already registered; tool names must be unique")
        }
        positions[tool.name] = tools.count
        tools.append(tool)
    }

    public func tool(named name: String) -> Tool? {
        positions[name].map { tools[$0] }
    }

    public var names: [String] { tools.map(\.name) }
}

public struct ToolRegistryError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
