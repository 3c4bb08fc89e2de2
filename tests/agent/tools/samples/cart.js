// Shopping cart helpers.
export class Cart {
  constructor() {
    this.lines = [];
  }

  addLine(sku, qty) {
    this.lines.push({ sku, qty });
  }

  get size() {
    return this.lines.length;
  }
}

export function priceOf(line, prices) {
  return prices[line.sku] * line.qty;
}

const totalOf = (cart, prices) =>
  cart.lines.reduce((sum, line) => sum + priceOf(line, prices), 0);

module.exports = { Cart, priceOf, totalOf };
