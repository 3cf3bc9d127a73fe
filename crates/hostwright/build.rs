// Templates and assets are embedded with include_dir!, which cargo does not track: rebuild
// when any of them changes so a test never runs against stale pages.
fn main() {
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=assets");
}
