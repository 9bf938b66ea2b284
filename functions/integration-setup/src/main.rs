fn main() {
    // filled in by its owner
}
