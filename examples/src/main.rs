//! `icectl`: the command-line face of the ICE stack (see the library's
//! documentation for the commands).

fn main() -> std::process::ExitCode {
    icectl::cli::main()
}
