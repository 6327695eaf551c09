/// The version of this build of Hermes Appliance.
public enum HermesVersion {
    public static let current = "0.1.0"
}
