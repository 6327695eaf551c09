import ArgumentParser
import Hermes

/// `hermes`: the Hermes Appliance daemon and its administration commands.
@main
struct HermesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hermes",
        abstract: "A self-hosted bridge between AI assistants and messaging platforms.",
        discussion: """
            Every state lives in one LMDB store in the state directory; platform credentials are sealed \
            with AES-256-GCM under the credential encryption key. Options can also be set through the \
            environment variables named in each command's --help.
            """,
        version: HermesVersion.current,
        subcommands: [ServeCommand.self, CustomersCommand.self, BackupCommand.self, KeysCommand.self, VersionCommand.self],
        defaultSubcommand: nil
    )
}
