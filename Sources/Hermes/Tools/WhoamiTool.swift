import JSON
/// `whoami`: who is calling, in which mode, on which plan. Needs nothing but the caller.
public enum WhoamiTool {
    public static func make() throws(JSONSchemaError) -> Tool {
        try Tool(
            name: "whoami",
            title: "Who am I",
            description: "Tells who is calling this server: the customer id, whether the server runs for a single user or for many customers, and the plan. Takes no arguments.",
            inputSchema: ["type": "object", "properties": [:], "additionalProperties": false],
            outputSchema: [
                "type": "object",
                "properties": [
                    "customer": ["type": "string", "description": "the caller's customer id"],
                    "mode": ["type": "string", "enum": ["single-user", "customer"]],
                    "plan": ["type": "string"],
                    "name": ["type": "string"],
                ],
                "required": ["customer", "mode", "plan"],
            ],
            annotations: ToolAnnotations(readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false)
        ) { invocation in
            let customer = invocation.customer
            var object: JSONObject = ["customer": .string(customer.id), "mode": .string(customer.kind.rawValue), "plan": .string(customer.plan)]
            if let name = customer.displayName { object["name"] = .string(name) }
            return .structured(.object(object))
        }
    }
}
