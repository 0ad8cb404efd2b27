export default function Private() {
  return <p id="private">members only</p>;
}
