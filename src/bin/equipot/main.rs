//! The `equipot` command: convert, eval, md, bench.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--version") | Some("version") => println!("equipot {}", equipot::VERSION),
        _ => {
            eprintln!("usage: equipot --version");
            std::process::exit(2);
        }
    }
}
