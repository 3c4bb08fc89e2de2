export interface Shape {
  area(): number;
}

export type Point = { x: number; y: number };

export enum Color {
  Red,
  Green,
}

export abstract class Base implements Shape {
  abstract area(): number;
}

export class Circle extends Base {
  constructor(private radius: number) {
    super();
  }

  area(): number {
    return Math.PI * this.radius ** 2;
  }
}

export function describe(shape: Shape): string {
  return `area ${shape.area()}`;
}

export const scale = (p: Point, k: number): Point => ({ x: p.x * k, y: p.y * k });
