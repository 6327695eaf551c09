import Store

/// Why a customer or API-key operation failed, with a message a person can act on.
package struct TenancyError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Code: Sendable, Equatable {
        case unknownCustomer
        case unknownPlan
        case invalidEmail
        case duplicateEmail
        case corruptRecord
        case store
    }

    package var code: Code
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }

    static func unknownCustomer(_ id: String) -> TenancyError {
        TenancyError(.unknownCustomer, "there is no customer '\(id.prefix(80))'; `hermes customers list` shows the ids")
    }

    static func unknownPlan(_ name: String) -> TenancyError {
        TenancyError(.unknownPlan, "there is no plan '\(name.prefix(40))'; the plans are \(Plan.all.map(\.name).joined(separator: ", "))")
    }

    static func store(_ error: any Error) -> TenancyError {
        if let error = error as? TenancyError { return error }
        return TenancyError(.store, "the store failed: \(error)")
    }
}
