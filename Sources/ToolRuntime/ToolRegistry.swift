import Tenancy
/// The tools the daemon offers, by name, in the order they were registered.
package struct ToolRegistry: Sendable {
    package private(set) var tools: [Tool] = []
    private var positions: [String: Int] = [:]

    package init() {}

    package init(_ tools: [Tool]) throws(ToolRegistryError) {
        for tool in tools { try register(tool) }
    }

    /// Adds a tool; a second tool with the same name is refused.
    package mutating func register(_ tool: Tool) throws(ToolRegistryError) {
        guard positions[tool.name] == nil else {
            throw ToolRegistryError(message: "a tool named '\(tool.name)' is already registered; tool names must be unique")
        }
        positions[tool.name] = tools.count
        tools.append(tool)
    }

    package func tool(named name: String) -> Tool? {
        positions[name].map { tools[$0] }
    }

    package var names: [String] { tools.map(\.name) }
}

package struct ToolRegistryError: Error, Sendable, CustomStringConvertible {
    package var message: String
    package var description: String { message }
}
