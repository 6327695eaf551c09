package import ToolRuntime
import Tenancy
import JSON
/// `whoami`: who is calling, in which mode, on which plan. Needs nothing but the caller.
package enum WhoamiTool {
    package static func make() throws(JSONSchemaError) -> Tool {
        try Tool(
            name: "whoami",
            title: "Who am I",
            description: "Tells who is calling this server: the customer id, whether the server runs for a single user or for many customers, and the plan, and which platforms have credentials. Takes no arguments.",
            inputSchema: ["type": "object", "properties": [:], "additionalProperties": false],
            outputSchema: [
                "type": "object",
                "properties": [
                    "customer": ["type": "string", "description": "the caller's customer id"],
                    "mode": ["type": "string", "enum": ["single-user", "customer"]],
                    "plan": ["type": "string"],
                    "name": ["type": "string"],
                    "platforms": ["type": "array", "items": ["type": "string"], "description": "platforms the caller has credentials for"],
                ],
                "required": ["customer", "mode", "plan"],
            ],
            annotations: ToolAnnotations(readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false)
        ) { invocation in
            let customer = invocation.customer
            var object: JSONObject = ["customer": .string(customer.id), "mode": .string(customer.kind.rawValue), "plan": .string(customer.plan)]
            if let name = customer.displayName { object["name"] = .string(name) }
            object["platforms"] = .array(try customer.connectedPlatforms().map(JSONValue.string))
            return .structured(.object(object))
        }
    }
}
