import ArgumentParser
import Foundation
import Store
import Tenancy

/// `hermes customers`: customers, their plans and API keys. Works on the state directory while the daemon
/// runs (LMDB serialises the writers of both processes).
struct CustomersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "customers",
        abstract: "Create and manage customers, their plans and API keys.",
        discussion: """
            While no customer exists the daemon serves one user with MCP_API_KEY; once the first customer is \
            created, every request needs a customer's API key or an OAuth token. API keys are printed once \
            and stored only as hashes: keep them when they are shown. Plans: \
            \(Plan.all.map { "\($0.name) (\($0.monthlyToolCalls) tool calls/month, \($0.requestsPerMinute) requests/min)" }.joined(separator: ", ")).
            """,
        subcommands: [Create.self, List.self, Show.self, Disable.self, Enable.self, SetPlan.self, RotateKey.self, RevokeKeys.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a customer and print its first API key (shown once).")

        @Option(help: "The customer's email address (unique).") var email: String
        @Option(help: "free, starter, growth or enterprise.") var plan: String = "free"
        @Option(name: .customLong("key-expires-days"), help: "Days until the API key stops working. Default: never.") var keyExpiresDays: Int?
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            try await withDirectory(storeOptions) { directory, store in
                let (record, key) = try await directory.create(email: email, plan: plan, keyExpiresAt: try expiry(keyExpiresDays, store))
                describe(record)
                print("api key:  \(key)")
                print("(shown once; it is stored only as a hash)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every customer.")
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            try await withDirectory(storeOptions) { directory, _ in
                let customers = try directory.list()
                guard !customers.isEmpty else {
                    print("no customers: the daemon runs in single-user mode (MCP_API_KEY)")
                    return
                }
                print(["ID", "EMAIL", "PLAN", "STATUS", "KEYS"].joined(separator: "\t"))
                for record in customers {
                    print([record.id, record.email, record.plan, record.active ? "active" : "disabled", "\(record.apiKeys.count)"].joined(separator: "\t"))
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one customer, its keys and this month's usage.")
        @Argument(help: "Customer id or email.") var customer: String
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            try await withDirectory(storeOptions) { directory, store in
                let record = try find(customer, in: directory)
                describe(record)
                for key in record.apiKeys {
                    print("key:      \(key.keyID)… created \(iso(key.created))\(key.expiresAt.map { ", expires \(iso($0))" } ?? "")")
                }
                let usage = try UsageMeter(store: store).usage(customerID: record.id)
                print("usage:    \(usage.toolCalls) of \(record.limits.monthlyToolCalls) tool calls in \(usage.month)")
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a customer: its keys get 403 until enabled, and its OAuth grants are revoked (clients sign in again).")
        @Argument(help: "Customer id or email.") var customer: String
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            try await withDirectory(storeOptions) { directory, _ in
                describe(try await directory.setActive(false, customerID: try find(customer, in: directory).id))
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled customer.")
        @Argument(help: "Customer id or email.") var customer: String
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            try await withDirectory(storeOptions) { directory, _ in
                describe(try await directory.setActive(true, customerID: try find(customer, in: directory).id))
            }
        }
    }

    struct SetPlan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-plan", abstract: "Move a customer to another plan.")
        @Argument(help: "Customer id or email.") var customer: String
        @Argument(help: "free, starter, growth or enterprise.") var plan: String
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            try await withDirectory(storeOptions) { directory, _ in
                describe(try await directory.setPlan(plan, customerID: try find(customer, in: directory).id))
            }
        }
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key",
            abstract: "Replace a customer's API keys with a new one (printed once); the old keys and the OAuth grants made with them stop working at once."
        )
        @Argument(help: "Customer id or email.") var customer: String
        @Option(name: .customLong("key-expires-days"), help: "Days until the new key stops working. Default: never.") var keyExpiresDays: Int?
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            try await withDirectory(storeOptions) { directory, store in
                let id = try find(customer, in: directory).id
                let (record, key) = try await directory.rotateKey(customerID: id, expiresAt: try expiry(keyExpiresDays, store))
                describe(record)
                print("api key:  \(key)")
                print("(shown once; the previous keys no longer work)")
            }
        }
    }
}

extension CustomersCommand {
    struct RevokeKeys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-keys",
            abstract: "Revoke every API key of a customer at once, and its OAuth grants."
        )
        @Argument(help: "Customer id or email.") var customer: String
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            try await withDirectory(storeOptions) { directory, _ in
                describe(try await directory.revokeKeys(customerID: try find(customer, in: directory).id))
                print("every API key of this customer is revoked; `rotate-key` issues a new one")
            }
        }
    }
}

/// Opens the store, runs `body` with the directory, closes the store; store and tenancy errors become
/// validation errors, so the CLI prints their message and exits non-zero.
private func withDirectory(_ options: StoreOptions, _ body: (CustomerDirectory, Store) async throws -> Void) async throws {
    _ = try options.existingStoreDirectory(ProcessInfo.processInfo.environment)
    let (store, _) = try options.openStore(label: "hermes.customers")
    defer { store.close() }
    do {
        try await body(CustomerDirectory(store: store), store)
    } catch let error as TenancyError {
        throw ValidationError(error.message)
    }
}

private func find(_ text: String, in directory: CustomerDirectory) throws -> CustomerRecord {
    guard let record = try directory.customer(idOrEmail: text) else {
        throw ValidationError("there is no customer with the id or email '\(text)'; `hermes customers list` shows them")
    }
    return record
}

private func expiry(_ days: Int?, _ store: Store) throws -> Timestamp? {
    guard let days else { return nil }
    guard days > 0 else { throw ValidationError("--key-expires-days must be a positive number of days, not \(days)") }
    return store.clock.now().adding(seconds: Int64(days) * 86_400)
}

private func describe(_ record: CustomerRecord) {
    print("customer: \(record.id)")
    print("email:    \(record.email)")
    print("plan:     \(record.plan)")
    print("status:   \(record.active ? "active" : "disabled")")
    print("created:  \(iso(record.created))")
}

private func iso(_ timestamp: Timestamp) -> String {
    let date = Date(timeIntervalSince1970: Double(timestamp.millisecondsSince1970) / 1000)
    return date.formatted(.iso8601)
}
