-- AlterEnum
ALTER TYPE "OnboardingStatus" ADD VALUE 'NEEDS_REVIEW';

-- AlterTable
ALTER TABLE "onboardings" ADD COLUMN     "reviewReasons" TEXT[] DEFAULT ARRAY[]::TEXT[];
