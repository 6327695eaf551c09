/// The version of this build of Hermes Appliance.
package enum HermesVersion {
    package static let current = "0.1.0"
}
