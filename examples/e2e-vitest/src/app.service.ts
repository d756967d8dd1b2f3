import { Injectable } from '@nestjs/common';

@Injectable()
export class AppService {
  sum(numbers: number[]): number {
    return numbers.reduce((total, n) => total + n, 0);
  }
}
