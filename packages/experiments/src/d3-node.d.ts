// d3-node ships no types; this declares the small part of its API (and of d3's selection) we use.
declare module "d3-node" {
  export interface Selection {
    append(name: string): Selection;
    attr(name: string, value: string | number): Selection;
    style(name: string, value: string | number): Selection;
    text(value: string): Selection;
  }
  export class D3Node {
    constructor(options?: { styles?: string });
    createSVG(width: number, height: number, attrs?: Record<string, string | number>): Selection;
    svgString(): string;
  }
}
