fn main() {
    std::process::exit(sdtui::cli::main());
}
